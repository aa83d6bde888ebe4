"""城市体征总览"""

from apps.reports.render import show_page

show_page("overview")
