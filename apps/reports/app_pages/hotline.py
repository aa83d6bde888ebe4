"""12345 热线"""

from apps.reports.render import show_page

show_page("hotline")
