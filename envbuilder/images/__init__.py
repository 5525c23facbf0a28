"""Container images built from a precise revision, the local base image, loading into kind."""
