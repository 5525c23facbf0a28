"""envbuilder's own components: the mock F5 and the f5-sync controller."""
