"""渣土车"""

from apps.reports.render import show_page

show_page("muck")
