"""Model acquisition: synthetic presets, local folders, hub snapshots."""
