"""The HTTP side: the listener and its guards, the request pipeline, JSON in and out."""
