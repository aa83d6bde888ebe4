"""群租风险"""

from apps.reports.render import show_page

show_page("group_rentals")
