"""What envbuilder keeps on this machine: environment records, host ports, locks."""
