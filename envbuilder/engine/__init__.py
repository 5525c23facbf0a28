"""The Pulumi layer: one stack per environment, an inline program, the local file backend by default.
The rest of envbuilder uses it through `envbuilder.engine.api` alone."""
