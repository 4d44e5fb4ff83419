"""Believable plant traffic for `shopfloor demo` and `shopfloor simulate`."""
