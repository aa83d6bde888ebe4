"""Risk models: group rentals (群租) and cloned plates (克隆车), scored from bronze into `risk/`."""
