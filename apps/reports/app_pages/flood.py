"""防汛"""

from apps.reports.render import show_page

show_page("flood")
