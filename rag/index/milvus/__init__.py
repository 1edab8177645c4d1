"""The Milvus backend: a generation's vectors and keyword index in Milvus collections, switched by an alias.

`connection` opens the client and names the collections; `publish` uploads a generation built on this
machine and switches the alias (atomically: the previous generation serves until then); `sync` fetches the
serving generation's metadata files onto a machine that has none; `store` is the `rag.store.ParagraphStore`
a query reads. docs/scale-out.md says how to run it and what milvus-lite does differently from a server.
"""
