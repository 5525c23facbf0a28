"""f5-sync: keeps the F5's pools and virtual servers in step with a namespace's Services.

Run it with `python -m envbuilder.components.f5sync` (in a pod) or `envbuilder f5-sync run`
(on the host). `contract` holds what other parts of envbuilder rely on.
"""
