"""Lava backends. Importing this package imports Lava (3-5 s); neurokit does so only on demand."""
