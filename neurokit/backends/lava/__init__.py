"""Lava backends. Importing this package imports Lava (3-5 s); neurokit does so only on demand."""
import multiprocessing
import sys

# Lava's message infrastructure calls multiprocessing.set_start_method("fork") when first imported, which
# raises once anything in the process has fixed the start method (torch.export does, for one). Before Lava
# is imported, let it choose.
if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules and \
        multiprocessing.get_start_method(allow_none=True) is not None:
    multiprocessing.set_start_method(None, force=True)
