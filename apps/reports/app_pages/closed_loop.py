"""闭环处置"""

from apps.reports.render import show_page

show_page("closed_loop")
