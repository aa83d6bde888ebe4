"""消防通道"""

from apps.reports.render import show_page

show_page("fire_lane")
