"""场景成效排名"""

from apps.reports.render import show_page

show_page("effectiveness")
