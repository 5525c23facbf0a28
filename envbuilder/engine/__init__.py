"""The Pulumi layer: one stack per environment, an inline program, the local file backend by default."""
