"""The index: a folder of immutable generations, built from the corpus, published atomically, verified on load.

`layout` owns the generation's file names and its manifest; `build` embeds a corpus and writes a generation;
`generations` publishes, locks and cleans up; `load` reads one into the `Index` a query needs; `keywords` is
the BM25 side and `pinyin` the romanised-word lexicon stored with it.
"""

from rag.index.build import Progress, build_index
from rag.index.load import Index, ensure_index, index_status, load_index

__all__ = ["Index", "Progress", "build_index", "ensure_index", "index_status", "load_index"]
