"""Long work run by the worker processes with progress: bulk imports, adoptions."""
