"""`rag mcp`: the quote search as an MCP server on stdin/stdout, for an agent to launch."""

from __future__ import annotations

import click

from rag.cli.base import Context, load_for_query, pass_ctx, run_guarded


@click.command("mcp")
@pass_ctx
def mcp_command(ctx: Context) -> None:
    """Serve the tools ask_quotes, list_speakers, get_speech and list_documents over MCP (stdio).

    An agent launches this command and speaks MCP on its standard input and output; notices and logs go to
    standard error. The index is built first when needed, and a newer index is picked up while it runs.

    \b
    Example (an MCP client's configuration):
      {"mcpServers": {"speech-quotes": {"command": "rag", "args": ["mcp"]}}}
    """
    from rag.mcp import build_server
    from rag.service import Service

    settings = ctx.settings
    index = run_guarded(lambda: load_for_query(settings))
    service = Service(settings, index=index)
    service.start()
    try:
        build_server(service).run("stdio")
    finally:
        service.stop()
