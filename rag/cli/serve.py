"""`rag serve`: the web chat and HTTP API under uvicorn."""

from __future__ import annotations

import click

from rag.cli.base import Context, fail, load_for_query, pass_ctx, run_guarded
from rag.cli.ready import announce_when_ready, port_in_use
from rag.settings import Settings


def check_for_serving(settings: Settings) -> str | None:
    """Why the index needs a rebuild (None: it is current and its files check out). Nothing is built here:
    the servers start on the last good generation and `rag.index.background` rebuilds beside them.

    Loading the index here as well cost ~0.8 s of start-up (jieba's dictionary, BM25, FAISS) for nothing.
    """
    from rag.embedding import get_embedder
    from rag.errors import RagError
    from rag.index.generations import cleanup_if_idle, read_manifest, serving_folder, verify_files
    from rag.index.load import index_status
    from rag.index.sync import read_live_segments

    if settings.backend == "milvus":
        # Milvus holds the state every API machine shares: it is checked (and built when empty) before serving.
        from rag.index.milvus.sync import check_for_serving as check_milvus

        check_milvus(settings, build=lambda: load_for_query(settings))
        return None
    cleanup_if_idle(settings.index_dir)  # what a killed build or merge left (unless a build runs now)
    status = index_status(settings, get_embedder(settings).id)
    if status != "ok":
        return status
    try:
        folder = serving_folder(settings.index_dir)
        manifest = read_manifest(folder)
        verify_files(folder, manifest)
        read_live_segments(settings.index_dir, manifest)  # each segment against its stamp (hashed if changed)
    except RagError as exc:
        return f"damaged: {exc}"
    return None


@click.command()
@click.option("--host", help="Bind address [env RAG_HOST, default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port [env RAG_PORT, default 8000].")
@click.option("--workers", type=click.IntRange(1, 32), help="Worker processes [env RAG_WORKERS, default 1].")
@pass_ctx
def serve(ctx: Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Start the web chat and HTTP API (rebuilds a missing or stale index in the background).

    Example: rag serve --host 127.0.0.1 --port 8000 --workers 2
    """
    import os

    import uvicorn

    from rag.logs import configure_logging

    settings = ctx.settings
    # Text on a terminal, JSON lines otherwise (RAG_LOG_FORMAT); each worker process sets the same up in create_app().
    configure_logging(
        force=True, log_format=settings.log_format, questions_on_terminal=settings.log_questions_on_terminal
    )
    host, port = host or settings.host, port or settings.port
    if port_in_use(host, port):  # before the index check: say it at once
        fail(f"{host}:{port} is already in use: stop that server or pick another --port")
    from rag.index.background import start_rebuild, stop_rebuild

    stale = run_guarded(lambda: check_for_serving(settings))
    rebuild = start_rebuild(settings, stale) if stale else None
    if stale:
        click.echo(f"The index needs a rebuild ({stale}): serving the last good generation meanwhile.", err=True)
    # Worker processes read their settings from the environment: pass the CLI's choices on.
    for name in ("data_dir", "corpus_dir", "index_dir", "embedder", "embedding_model"):
        os.environ[f"RAG_{name.upper()}"] = str(getattr(settings, name))
    os.environ["RAG_SERVE_SUPERVISOR_PID"] = str(os.getpid())  # workers die with this process (app/supervision.py)
    # Each worker's model keeps a thread per core: with its brief OpenMP spin two models share the cores
    # gracefully, and a lone request is answered at full speed (bench/RESULTS.md: 2 workers on 2 cores answer
    # one client in ~16 ms instead of ~27 ms with a core each, for ~10 % fewer requests/s under load;
    # OMP_NUM_THREADS=1 chooses the latter).
    workers = workers or settings.workers
    click.echo(f"Starting on http://{host}:{port}/ (loading the index)", err=True)
    announce_when_ready(host, port, lambda line: click.echo(line, err=True))  # once /readyz answers 200
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http="app.transport:NoDelayHttpProtocol",  # httptools; Nagle's algorithm off with several workers too
        log_config=None,  # keep the JSON set-up above; uvicorn's loggers propagate to it
        log_level="info",
        access_log=False,  # app.access writes one line per request, with its request id
        proxy_headers=False,  # uvicorn trusts X-Forwarded-For from 127.0.0.1; RAG_TRUSTED_PROXIES decides instead
        timeout_graceful_shutdown=10,
    )
    if rebuild is not None:
        stop_rebuild(rebuild)
