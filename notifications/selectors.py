"""Read access to a retailer's webhook endpoints and their deliveries."""

from django.db.models import QuerySet

from .models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, retailer_id) -> QuerySet:
    return WebhookEndpoint.objects.filter(retailer_id=retailer_id).order_by("created_at")


def webhook_endpoint_get(*, retailer_id, endpoint_id) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(retailer_id=retailer_id, id=endpoint_id).first()


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet:
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries
