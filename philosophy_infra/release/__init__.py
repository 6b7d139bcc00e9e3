"""The service's release objects (Argo CD's): built from the typed config, rendered into deploy/<stack>/."""
