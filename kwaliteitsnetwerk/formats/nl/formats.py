# One time format in the Dutch interface: "09.30" (the Dutch convention, DOMAIN.md §9), also
# where Django writes a moment on its own. Never for .ics, CSV or JSON: those write ISO 8601.
TIME_FORMAT = "H.i"
DATETIME_FORMAT = "j F Y H.i"
SHORT_DATETIME_FORMAT = "d-m-Y H.i"
