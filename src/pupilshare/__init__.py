"""pupilshare: the system behind a national pupil-data privacy notice.

Collect pupil records, match them to one pupil index, share them only under approved
agreements, release each share at the least identifying level, and answer for it.
"""

__version__ = "0.1.0"
