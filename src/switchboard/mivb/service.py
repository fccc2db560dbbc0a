"""The MiVB capability's service interface: what the API, the console, the CLI, the
importer and the adoption call, gathered from the modules that hold each topic
(settings, categories, subscriptions, phones; rules and presenters behind them)."""

from switchboard.mivb.categories import (  # noqa: F401
    create_category,
    delete_category,
    get_category,
    list_categories,
    update_category,
)
from switchboard.mivb.phones import add_phone, delete_phone, get_phone, list_phones, update_phone  # noqa: F401
from switchboard.mivb.presenters import PRODUCT_NAME, user_summaries  # noqa: F401
from switchboard.mivb.settings import (  # noqa: F401
    get_addon_licences,
    get_pin_policy,
    set_addon_licences,
    set_pin_policy,
)
from switchboard.mivb.subscriptions import (  # noqa: F401
    add_product,
    assign_many,
    choose_category,
    generate_user_pin,
    get_config,
    list_products,
    remove_product,
    suggest_user_pin,
    update_config,
)
