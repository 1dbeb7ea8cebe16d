"""One date format for people: lists, pages, timelines, history, letters and public pages.

"3 October 2025" and "3 October 2025, 14:05" (the controller's time zone). Inputs keep Django's en-GB
input formats, plus ISO dates (2025-10-03), which the date pickers and the API send.
"""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j F Y"
SHORT_DATETIME_FORMAT = "j F Y, H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
