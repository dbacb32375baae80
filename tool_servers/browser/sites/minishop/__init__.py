"""MiniShop: a generated offline shop in WebShop's product schema, with WebShop's reward."""

from tool_servers.browser.sites.minishop.catalog import Product, generate_products
from tool_servers.browser.sites.minishop.goals import generate_goals, load_webshop
from tool_servers.browser.sites.minishop.reward import RewardParts, webshop_reward

__all__ = ["Product", "RewardParts", "generate_goals", "generate_products", "load_webshop", "webshop_reward"]
