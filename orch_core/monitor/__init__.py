"""The live monitor: one static page and its JSON and server-sent-event feeds."""
