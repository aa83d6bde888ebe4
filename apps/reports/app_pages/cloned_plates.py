"""套牌车嫌疑"""

from apps.reports.render import show_page

show_page("cloned_plates")
