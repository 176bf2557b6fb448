"""``python -m station`` runs the ``rehab-station`` command."""

import sys

from station.cli import main

sys.exit(main())
