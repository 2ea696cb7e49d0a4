import sys

from lwnet.cli import main

sys.exit(main())
