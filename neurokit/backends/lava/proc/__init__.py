"""neurokit's Lava processes (process.py) and their models (models.py). Lava's compiler loads the files in
this folder as standalone modules when it looks for models, so they use absolute imports only."""
