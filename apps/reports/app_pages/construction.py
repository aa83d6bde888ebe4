"""工地安全"""

from apps.reports.render import show_page

show_page("construction")
