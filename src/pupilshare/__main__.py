import sys

from pupilshare.cli import main

sys.exit(main())
