"""The MCP server for agents: the quote search as Model Context Protocol tools (the official `mcp` SDK).

`rag mcp` serves it on stdio; `rag serve` serves it at /mcp (streamable HTTP) when `RAG_MCP_HTTP` is on.
The tools return the same verified records as the HTTP API (POST /ask, GET /speakers, GET /speeches/{key}).
"""

from rag.mcp.server import build_server, mount_http
from rag.mcp.tools import QuoteTools

__all__ = ["QuoteTools", "build_server", "mount_http"]
