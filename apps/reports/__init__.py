"""Streamlit reports for managers, in Chinese."""
