"""f5-sync: keeps the F5's pools and virtual servers in step with a namespace's Services.

Run it with `f5-sync run` (cli.py: the container's entrypoint, or a host process). `contract`
holds what envbuilder relies on; it and this module import nothing else.
"""
