"""The built-in job kinds (see app/jobs/registry.py). Each module registers its kinds on import."""
