"""The HTTP side of the core: the server, its JSON conventions, the core routes."""
