import sys

from tfcook.cli import main

sys.exit(main())
