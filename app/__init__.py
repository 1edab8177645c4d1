"""The web chat and the HTTP API over the `rag` library (`create_app` in app.main)."""
