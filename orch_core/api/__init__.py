"""The one method registry behind the CLI, the JSON-lines and the MCP servers."""
