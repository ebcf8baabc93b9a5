import sys

from smearnet.cli import main

sys.exit(main())
