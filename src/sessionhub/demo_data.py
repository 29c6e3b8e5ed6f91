"""The material of ``sessionhub demo``: real user agents, referrers, campaigns, pages, chats.

Weights are rough shares seen on small product sites (desktop Chrome leads, iPhones
follow; Google and direct bring most visits). Countries go in the way a CDN reports them
(``ClientInfo.country``), so the demo needs no IP database.
"""

from __future__ import annotations

SITE = "https://shop.example.com"

USER_AGENTS: list[tuple[str, float]] = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        10,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        9,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        18,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.6778.39 Mobile Safari/537.36",
        11,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        4,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", 6),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        6,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.7 Mobile/15E148 Safari/604.1",
        3,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", 2),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        1,
    ),
]

COUNTRIES: list[tuple[str, float]] = [
    ("US", 28), ("DE", 11), ("GB", 9), ("FR", 6), ("IN", 7), ("CA", 4), ("NL", 4),
    ("BR", 4), ("ES", 3), ("IT", 3), ("PL", 2), ("SE", 2), ("JP", 3), ("AU", 3),
    ("MX", 2), ("CH", 1.5), ("AT", 1.5), ("NG", 1), ("ZA", 1), ("KR", 1.5), ("AR", 1),
]  # fmt: skip

# (referrer, utm query, weight): how visits arrive.
ARRIVALS: list[tuple[str | None, str, float]] = [
    ("https://www.google.com/", "", 34),
    (None, "", 24),
    (None, "utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale", 6),
    ("https://t.co/x4Kd9aQ", "", 4),
    ("https://news.ycombinator.com/item?id=42131337", "", 4),
    ("https://www.reddit.com/r/webdev/comments/1gk2x/", "", 4),
    ("https://www.bing.com/", "", 4),
    ("https://duckduckgo.com/", "", 3),
    ("https://chatgpt.com/", "", 3),
    ("https://github.com/sessionhub/sessionhub", "", 3),
    (
        "https://www.producthunt.com/posts/shop",
        "utm_source=producthunt&utm_medium=referral&utm_campaign=launch",
        3,
    ),
    ("https://www.facebook.com/", "utm_source=facebook&utm_medium=cpc&utm_campaign=retargeting", 4),
    ("https://www.linkedin.com/", "", 2),
]

PAGES: dict[str, str] = {
    "/": "Shop — Everyday gear, shipped fast",
    "/products": "All products — Shop",
    "/products/trail-backpack": "Trail Backpack 28L — Shop",
    "/products/merino-hoodie": "Merino Hoodie — Shop",
    "/products/insulated-bottle": "Insulated Bottle 750 ml — Shop",
    "/pricing": "Membership pricing — Shop",
    "/blog": "Journal — Shop",
    "/blog/packing-light": "How to pack light for a week — Shop Journal",
    "/blog/care-for-merino": "Caring for merino wool — Shop Journal",
    "/help": "Help centre — Shop",
    "/signup": "Create your account — Shop",
    "/cart": "Your cart — Shop",
    "/checkout": "Checkout — Shop",
    "/checkout/done": "Thank you for your order — Shop",
}
ENTRY_PAGES: list[tuple[str, float]] = [
    ("/", 40), ("/products", 10), ("/products/trail-backpack", 10), ("/products/merino-hoodie", 7),
    ("/blog/packing-light", 10), ("/blog/care-for-merino", 6), ("/pricing", 7), ("/help", 5),
    ("/blog", 5),
]  # fmt: skip
# Where people go next from each page (None: they leave).
NEXT: dict[str, list[tuple[str | None, float]]] = {
    "/": [("/products", 40), ("/pricing", 15), ("/blog", 10), ("/signup", 8), (None, 27)],
    "/products": [
        ("/products/trail-backpack", 30), ("/products/merino-hoodie", 25),
        ("/products/insulated-bottle", 20), (None, 25),
    ],
    "/products/trail-backpack": [("/cart", 30), ("/products", 25), (None, 45)],
    "/products/merino-hoodie": [("/cart", 25), ("/products", 25), (None, 50)],
    "/products/insulated-bottle": [("/cart", 30), ("/products", 20), (None, 50)],
    "/pricing": [("/signup", 35), ("/", 20), (None, 45)],
    "/blog": [("/blog/packing-light", 45), ("/blog/care-for-merino", 35), (None, 20)],
    "/blog/packing-light": [("/products/trail-backpack", 30), ("/blog", 15), (None, 55)],
    "/blog/care-for-merino": [("/products/merino-hoodie", 30), ("/blog", 15), (None, 55)],
    "/help": [("/", 30), (None, 70)],
    "/signup": [("/products", 40), (None, 60)],
    "/cart": [("/checkout", 55), ("/products", 20), (None, 25)],
    "/checkout": [("/checkout/done", 70), (None, 30)],
    "/checkout/done": [(None, 100)],
}  # fmt: skip
ERRORS = [
    "TypeError: Cannot read properties of undefined (reading 'price')",
    "NetworkError: POST /api/cart failed with 502",
    "ChunkLoadError: Loading chunk 412 failed.",
]
PRODUCTS = [
    ("SKU-BP28", "Trail Backpack 28L", "129.00", "bags"),
    ("SKU-MH01", "Merino Hoodie", "89.00", "apparel"),
    ("SKU-IB75", "Insulated Bottle 750 ml", "34.50", "kitchen"),
    ("SKU-RC02", "Rain Cover", "19.90", "bags"),
]
# The product pages' items, as their page views name them (product_id, category).
PAGE_ITEMS = {
    "/products/trail-backpack": ("SKU-BP28", "bags"),
    "/products/merino-hoodie": ("SKU-MH01", "apparel"),
    "/products/insulated-bottle": ("SKU-IB75", "kitchen"),
}
# Personalization: segments kept by rules, and an experiment on the checkout button.
SEGMENTS = [
    {"key": "buyers", "name": "Bought in the last 30 days",
     "rules": {"event": "conversion", "min": 1, "within_days": 30}},
    {"key": "bag_fans", "name": "Into bags",
     "rules": {"and": [{"affinity": "category:bags", "op": "gte", "value": 0.15},
                       {"field": "sessions", "op": "gte", "value": 2}]}},
    {"key": "window_shoppers", "name": "Browse, never buy",
     "rules": {"and": [{"field": "events", "op": "gte", "value": 5},
                       {"not": {"event": "conversion", "min": 1, "within_days": 90}}]}},
]  # fmt: skip
EXPERIMENT = {
    "key": "checkout_button", "name": "Green checkout button", "unit": "device",
    "variants": [{"key": "control", "features": {"checkout_color": "blue"}},
                 {"key": "green", "features": {"checkout_color": "green"}}],
    "goal": {"event": "conversion"}, "min_sample": 50, "status": "running",
}  # fmt: skip
CHATS: list[list[tuple[str, str]]] = [
    [
        ("user", "Hi! Is the trail backpack waterproof?"),
        ("assistant", "It is water-resistant; add the Rain Cover for downpours."),
        ("user", "Does the rain cover fit the 28 litre backpack?"),
        ("assistant", "Yes, it fits packs from 20 to 35 litres. Shall I add both to your cart?"),
        ("user", "Yes please, one of each."),
    ],
    [
        ("user", "I need a warm hoodie for hiking in autumn, what do you suggest?"),
        ("assistant", "The Merino Hoodie: warm, breathable and it does not smell after hiking."),
        ("user", "What sizes does the merino hoodie come in?"),
        ("assistant", "XS to XXL. Most hikers take their usual size."),
    ],
    [
        ("user", "Where is my order? It has been a week."),
        ("assistant", "Sorry about that! Could you give me your order number?"),
        ("user", "Order 10482, shipping to Berlin."),
        ("assistant", "It left our warehouse on Monday and arrives tomorrow."),
    ],
    [
        ("user", "Can I return a bottle if the colour is wrong?"),
        ("assistant", "Yes: returns are free within 30 days, unused and in the box."),
        ("user", "Great, and how long does the refund take?"),
        ("assistant", "Three to five working days after the return arrives."),
    ],
]
WORK_TITLES = [
    "Plan the winter sale landing page",
    "Write the packing-light newsletter",
    "Fix checkout error on Android",
    "Photograph the new bottle colours",
    "Review Q4 returns",
    "Migrate the help centre articles",
]
