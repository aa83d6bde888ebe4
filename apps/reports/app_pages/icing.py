"""道路结冰"""

from apps.reports.render import show_page

show_page("icing")
