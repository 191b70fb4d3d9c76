import { t } from 'elysia'
import { QueryParameters } from '../http/models.ts'
import {
  ChannelModel,
  CurrencyCode,
  E164,
  JsonInteger,
  MinorUnits,
  oneOf,
  PageQuery,
  Text,
  Timestamp,
  Uuid,
} from '../shared/models.ts'

export const ORDER_STATUSES = [
  'pending',
  'confirmed',
  'paid',
  'shipped',
  'delivered',
  'cancelled',
  'refunded',
] as const
export type OrderStatus = (typeof ORDER_STATUSES)[number]
export const OrderStatusModel = oneOf(ORDER_STATUSES, { examples: ['confirmed'] })

export const CreateOrderBody = t.Object(
  {
    channel: t.Optional(ChannelModel),
    customer: t.Object(
      { phone: E164, name: t.Optional(Text({ minLength: 1, maxLength: 200 })) },
      { additionalProperties: false },
    ),
    items: t.Array(
      t.Object(
        {
          productId: Uuid,
          quantity: JsonInteger({ minimum: 1, maximum: 1000, examples: [2] }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 100 },
    ),
  },
  { additionalProperties: false },
)

export const OrderItemModel = t.Object({
  productId: Uuid,
  quantity: JsonInteger(),
  unitPriceMinor: MinorUnits('unit price when the order was placed'),
  lineTotalMinor: MinorUnits('quantity × unit price'),
})

// Response models state `additionalProperties: false`: Elysia would otherwise set it on this shared
// object when a route using it as its response first compiles, changing /swagger/json with traffic
// (see ErrorEnvelopeModel in src/http/models.ts).
export const OrderModel = t.Object(
  {
    id: Uuid,
    status: OrderStatusModel,
    channel: ChannelModel,
    customer: t.Object({ phone: E164, name: t.Union([t.String(), t.Null()]) }),
    totalMinor: MinorUnits('sum of the line totals'),
    currency: CurrencyCode,
    items: t.Array(OrderItemModel),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { description: 'An order', additionalProperties: false },
)

export const ChangeStatusBody = t.Object({ status: OrderStatusModel }, { additionalProperties: false })

export const OrderListQuery = QueryParameters({
  ...PageQuery,
  status: t.Optional(OrderStatusModel),
  channel: t.Optional(ChannelModel),
})

export type CreateOrder = typeof CreateOrderBody.static
export type OrderView = typeof OrderModel.static
export type OrderListFilter = typeof OrderListQuery.static
