"""Past views: the read models as they stood at a moment, replayed from the retained log."""
