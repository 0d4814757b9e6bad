"""Long-running front ends over the registry: JSON lines and MCP on stdio."""
