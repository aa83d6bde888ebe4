"""数据质量"""

from apps.reports.render import show_page

show_page("quality")
